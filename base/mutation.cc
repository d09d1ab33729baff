#include "base/mutation.h"

// Compiled to nothing in a normal build: the catalogue's names and texts exist only where
// the mutants do.
#ifdef RB_MUTANTS
namespace rb::mutation {
namespace {
Mutant active = Mutant::kNone;
}  // namespace

Mutant Active() { return active; }
void Activate(Mutant m) { active = m; }

const std::vector<MutantInfo>& Catalogue() {
  static const auto* const catalogue = new std::vector<MutantInfo>{
#define RB_MUTANT_INFO(id, name, area, what) MutantInfo{Mutant::id, name, area, what},
      RB_MUTANT_CATALOGUE(RB_MUTANT_INFO)
#undef RB_MUTANT_INFO
  };
  return *catalogue;
}

std::optional<MutantInfo> FindMutant(const std::string& name) {
  for (const MutantInfo& m : Catalogue()) {
    if (m.name == name) return m;
  }
  return std::nullopt;
}

const char* MutantName(Mutant m) {
  for (const MutantInfo& info : Catalogue()) {
    if (info.id == m) return info.name;
  }
  return "";
}

}  // namespace rb::mutation
#endif  // RB_MUTANTS
