"""Built-in dabench plugins: methods."""
