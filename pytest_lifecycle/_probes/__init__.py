"""Probes of a provider's threads, files, memory and processes (parking, crash, leaks, …).  Never import pytest or Hypothesis."""
