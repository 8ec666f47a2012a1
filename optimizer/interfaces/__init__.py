"""Layer 5, the ways in: the command line (``cli``), the HTTP service (``service``) and its
Python client (``client``)."""
