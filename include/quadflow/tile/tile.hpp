// quadflow tiling, everything: layouts, RGB image views, quadtree, model-sized tiles, grid and SpotDiffusion layouts.
#pragma once

#include "quadflow/tile/conditions.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/image.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/model_tiles.hpp"
#include "quadflow/tile/quadtree.hpp"
