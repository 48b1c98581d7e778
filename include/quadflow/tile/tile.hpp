// quadflow tiling, everything: layouts, blend weights, RGB image views, quadtree, model-sized tiles, grid and
// SpotDiffusion layouts, batching, strength maps.
#pragma once

#include "quadflow/tile/batching.hpp"
#include "quadflow/tile/grid.hpp"
#include "quadflow/tile/image.hpp"
#include "quadflow/tile/layout.hpp"
#include "quadflow/tile/model_tiles.hpp"
#include "quadflow/tile/quadtree.hpp"
#include "quadflow/tile/strength_map.hpp"
#include "quadflow/tile/weights.hpp"
