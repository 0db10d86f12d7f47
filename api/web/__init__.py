"""The analyst dashboard: server-rendered pages (Jinja2 templates) and their static scripts,
served by the API process behind the API's own login. The pages are frames: every panel reads
a JSON endpoint of the API from the browser (same origin, the access-token cookie), so what a
page shows a script can fetch too."""
