"""Trust at the screen: nothing a submission contains runs in anyone's browser.

Every output and markdown cell of a submission is untrusted content. Before an autograded
notebook is written and before any page is rendered from it, :mod:`.notebook` neutralises it
with one allow-list (:mod:`.sanitize`, on nh3); every page we render carries a
Content-Security-Policy that admits only the template's own scripts (:mod:`.page`), so a
sanitiser miss still runs nothing; formgrader's pages get the same policy from a Jupyter
server extension (:mod:`.server`); and every student-derived string in our own reports is
escaped for its sink (:mod:`.text`).
"""

# File types a browser runs or renders actively: never copied from a submission onwards
# (CourseDirectory.ignore), so a student's page cannot sit next to the feedback.
ACTIVE_FILE_PATTERNS = ("*.html", "*.htm", "*.xhtml", "*.shtml", "*.svg", "*.svgz", "*.xml", "*.xsl", "*.xslt",
                        "*.js", "*.mjs", "*.swf", "*.pdf")
