"""Built-in dabench plugins: datasets."""
