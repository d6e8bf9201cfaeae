// Errors thrown by the core: mtpf::Error and mtpf::fail, defined with the format layer that throws them too.
#pragma once
#include "mtpf/formats/error.h"
