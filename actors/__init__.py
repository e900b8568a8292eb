"""The actors of the control plane (API, scheduler, volume managers) and the database they share."""
