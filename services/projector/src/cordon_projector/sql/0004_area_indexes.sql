-- A page about a grid or a compound finds its residents by index, as one about a
-- community, a sub-district or a building already did (read_models/four_colour.py narrows
-- the orders to the area's residents before looking up their levels).
CREATE INDEX ON {schema}.resident (grid_id);
CREATE INDEX ON {schema}.resident (compound_id);
