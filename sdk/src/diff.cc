// The key function of berth/diff.h's Differ: one vtable and type_info for the
// whole process, so dynamic_cast to Differ agrees across plugin libraries.
#include "berth/diff.h"

namespace berth {

Differ::~Differ() = default;

}  // namespace berth
