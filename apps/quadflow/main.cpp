// quadflow CLI: schedules, torch-compatible noise, the toy sampler and tile layouts as JSON on stdout.
#include "quadflow_app/cli.hpp"

int main(int argc, char** argv) { return quadflow::cli::run_cli(argc, argv); }
