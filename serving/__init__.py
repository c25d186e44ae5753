"""The Ray Serve application that serves the champion (see the serving issue)."""
