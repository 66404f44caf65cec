"""The instructor workspace and the student pages: server-rendered, assets served locally."""
