"""Asset checks: data-quality suites (Great Expectations) and model gates."""
