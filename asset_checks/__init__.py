"""Asset checks: data-quality suites (Great Expectations) and, later, model gates."""
