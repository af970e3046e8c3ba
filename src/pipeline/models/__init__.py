"""Model families, their chat formats, and tiny local models for the demo."""
