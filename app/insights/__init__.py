"""Department heads' insights: a read side over the other domains' tables."""
