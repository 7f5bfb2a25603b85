"""Built-in dabench plugins: backbones."""
