"""Trust at the screen: nothing a submission contains runs in anyone's browser.

Every output and markdown cell of a submission is untrusted content. Before an autograded
notebook is written and before any page is rendered from it, :mod:`.notebook` neutralises it
with one allow-list (:mod:`.sanitize`, on nh3); every page we render carries a
Content-Security-Policy that admits only the template's own scripts (:mod:`.page`), so a
sanitiser miss still runs nothing; formgrader's pages get the same policy from a Jupyter
server extension (:mod:`.server`); and every student-derived string in our own reports is
escaped for its sink (:mod:`.text`). The file types a browser runs never travel on from a
submission at all (:mod:`autograder.exchange.filetypes`).
"""
