"""The Streamlit app: `app.py` is the entry; `sidebar` reads the set-up, `screens/` draw a page each, `views` only
display, and `state` holds what outlives a script run (process-wide resources, the loaded model)."""
