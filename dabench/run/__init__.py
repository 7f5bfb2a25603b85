"""One run, top-down: plan, execute, the networks it builds, the source model, evaluate, record."""
