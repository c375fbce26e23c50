"""The core: catalogue, provider, context, runner, surfaces, the Kit and its gates.  Never imports pytest or Hypothesis."""
