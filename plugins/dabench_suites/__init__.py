"""Built-in dabench plugins: suites."""
