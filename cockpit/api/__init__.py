"""The seed's REST API (section 6), served by the headless engine: `cockpit --headless --api HOST:PORT`."""
