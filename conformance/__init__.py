"""The conformance suites, one module per contract.

Run them against the selected provider with ``pytest --pyargs conformance``,
or add one to a project's tests with ``from conformance.session_lifecycle import *``.
Every test carries ``@pytest.mark.rule(ID)``, starts its docstring with the
rule ID, and cites the section of the contract text it checks
(``pytest_lifecycle/contract/``; ``pytest-lifecycle rules ID`` prints a rule).
"""
