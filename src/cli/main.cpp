// The gptforge executable: everything happens in the library (src/cli/app.cpp onwards).
#include "cli/app.h"

int main(int argc, char** argv) { return gptforge::cli::run(argc, argv); }
