"""The sequential models: each contract as plain, executable Python.

A model is the contract's rules written as a small program: it keeps the
state a correct provider must be in, and its methods return (or raise)
what the contract says the provider must answer to each call.  A model
knows nothing of pytest, Hypothesis, the kit or any provider; the state
machines of :mod:`conformance` drive a provider and a model side by side
and compare, and the example tests ask a model what to expect where that
is clearer than restating the rule.

Where the contract leaves an open choice, a model does not take the
reference's side: it stays nondeterministic (it answers with every outcome
the contract allows) or it follows the branch it is told the provider was
seen to take.  Docstrings cite the rules they encode, e.g. "LC-05 (§1a)";
the contract text under ``pytest_lifecycle/contract/`` cites its model.

One module per contract: :mod:`.session_lifecycle`, :mod:`.respawn`,
:mod:`.checkpoint_store`, :mod:`.keyed_locks`, :mod:`.event_streams`.
"""
