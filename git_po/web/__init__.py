"""`git po web`: a live dashboard of the repository's plans in the browser (optional extra
`git-po[web]`). launch.py starts it, app.py serves it, data.py reads what it shows, graph_svg.py
draws the task graph; static/ holds the page, its script and its style, all served from here."""
