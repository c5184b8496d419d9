"""The domain: appeals, materials, contacts, and the services that act on them."""
