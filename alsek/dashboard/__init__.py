"""The web dashboard (``alsek dashboard``, the ``alsek[dashboard]`` extra).

``alsek.dashboard.app.create_app`` builds the Starlette application;
``data`` reads the system (plain data, shared by the pages and the JSON
API); ``security`` holds the token, host and CSRF checks; ``charts`` draws
inline SVG. Only ``app``, ``state``, ``pages`` and ``api`` import the web
stack, so importing this package alone needs nothing beyond Alsek.
"""
