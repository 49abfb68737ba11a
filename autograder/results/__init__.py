"""What a grading run produces: one outcome per submission, and the reports and exports built from them."""
