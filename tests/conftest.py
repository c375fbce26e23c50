import os

# Imported once here, so in-process pytester runs (which drop the modules a
# run imports) do not pay for Hypothesis and the suites on every run.
import hypothesis.stateful
import hypothesis.strategies  # noqa: F401

import conformance.checkpoint_store
import conformance.event_streams
import conformance.keyed_locks
import conformance.respawn
import conformance.session_lifecycle  # noqa: F401

try:  # the SSE client, kept across in-process runs (the `sse` extra)
    import httpcore  # noqa: F401
    import httpx  # noqa: F401
except ImportError:
    pass

# The kit's inner runs must not write into a real GitHub job's step summary
# or annotations when this suite itself runs under GitHub Actions.
for _variable in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
    os.environ.pop(_variable, None)

pytest_plugins = ["pytester"]
