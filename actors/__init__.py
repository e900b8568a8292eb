"""The control plane: the actors (API, scheduler, volume managers, driver hosts), the RPC layer,
policy and configuration, the database they share, ``client`` for calling the API from outside,
and the REST layer and ``serve`` that put it on the network."""
