"""Deception learned from good traffic: the shape of the site's real answers to people, per endpoint, and fake
answers drawn from it for the clients a deceive policy takes (`book` for the registry, `shapes` for what is learned
and drawn, `formats` for a single value)."""
