"""Event-stream alternates (§4): correct registries that take the other branch of its open choices."""
