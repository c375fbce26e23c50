"""The pytest plugin: options, fixtures, discovery of suites, the report, certificates and the exit gate."""
