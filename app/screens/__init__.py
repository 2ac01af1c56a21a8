"""Store screens: a department's board on the break-room TV, opened by a secret link."""
