"""The conformance suites, one module per contract.

Run them against the selected provider with ``pytest --pyargs conformance``,
or add one to a project's tests with ``from conformance.session_lifecycle import *``.
Every test carries ``@pytest.mark.rule(ID)``, starts its docstring with the
rule ID, and cites the section of the contract text it checks
(``pytest_lifecycle/contract/``; ``pytest-lifecycle rules ID`` prints a rule).
Each contract's sequential model -- the rules as plain, executable Python --
is in :mod:`conformance.models`; the state machines check providers against it.

The import name ``conformance`` is also taken by an unrelated distribution
on the package index; the plugin checks for :data:`SUITES_OF` and says so
plainly when another package answers to the name.
"""

#: Marks this package as pytest-lifecycle's suites (the plugin checks it).
SUITES_OF = "pytest-lifecycle"
