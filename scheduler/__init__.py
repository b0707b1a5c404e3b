"""The scheduler role: the runtime's clock. `clock` requests the polls and runs the periodic jobs that
`periodic` declares with their intervals; one scheduler leads, others wait as hot spares."""
