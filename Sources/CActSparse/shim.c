// The CActSparse target holds only inline helpers (include/CActSparse.h); SwiftPM wants one C file.
#include "CActSparse.h"
