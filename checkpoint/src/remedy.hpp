// Internal: the `fix:` text of a restore whose target does not fit, specific to what differs.
#pragma once

#include <string>
#include <vector>

#include "nnx/error.hpp"

namespace nnx::checkpoint {

// `differences` as compare_structure(target, stored) gives them: missing = in the target only,
// unexpected = in the checkpoint only. Names the likely cause (another optimizer, another model
// configuration, other dtypes, extra paths) and the option or call that helps, then the general recipe.
std::string restore_remedy(const std::vector<Difference>& differences);

}  // namespace nnx::checkpoint
