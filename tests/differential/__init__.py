"""The differential suite: the same requests to real Cinder 29 and to ``replisim serve``, compared."""
