"""Reference implementations of every pytest-lifecycle contract.

Each module reads as a statement of its contract (``pytest_lifecycle/contract/``); the
bundled ``reference`` provider (:mod:`reference_impl.provider`) wires them
to the kit and is the default when no provider is selected.
"""
