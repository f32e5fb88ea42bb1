// nnx-ckpt plot: a metrics log (metrics.jsonl) as an SVG of curves — no plotting library needed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nnx/checkpoint/metrics_log.hpp>

namespace nnx_ckpt {

// Panels: metrics named "*loss*", then "*acc*", then the rest (a panel only when it has a curve).
// Every panel marks saved steps (triangles on the axis), resumed runs (dashed lines) and the best
// step (a green line), when given.
std::string plot_svg(const std::vector<nnx::checkpoint::LogEntry>& log, std::optional<std::int64_t> best_step,
                     const std::string& title);

}  // namespace nnx_ckpt
