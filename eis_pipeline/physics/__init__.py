"""From fitted arcs to physics: roles, capacitances, conductivity, Arrhenius, campaigns."""
