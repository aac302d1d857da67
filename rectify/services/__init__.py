"""Operations over the database that the CLI, the flows and the form share."""
