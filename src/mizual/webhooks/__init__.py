"""Webhooks: signed POSTs of an edit's status to the submitter's URL, retried until delivered."""
