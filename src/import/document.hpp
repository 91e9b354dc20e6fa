// The JSON writer: a list of drafts → {"services": {...}} (see document.cpp).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "import/report.hpp"
#include "import/service_draft.hpp"

namespace sb::import {

nlohmann::json build_document(std::vector<ServiceDraft> drafts, Report& report);

}  // namespace sb::import
