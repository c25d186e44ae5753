"""Software-defined assets, one module per ML stage."""
