// edgereason's entry point: parses the command line, runs one subcommand, maps errors to exit codes.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_names.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitBadInput = 2;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgereason: run, control, measure and plan reasoning LLMs on edge devices"};
  app.set_version_flag("--version", std::string("edgereason ") + ER_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  const std::vector<er::cli::Command> commands = {
      er::cli::add_info_command(app),
      er::cli::add_run_command(app),
      er::cli::add_bench_command(app),
      er::cli::add_probe_command(app),
      er::cli::add_fit_command(app),
      er::cli::add_predict_command(app),
      er::cli::add_eval_command(app),
      er::cli::add_grade_command(app),
      er::cli::add_sweep_command(app),
      er::cli::add_merge_command(app),
      er::cli::add_pareto_command(app),
      er::cli::add_plan_command(app),
      er::cli::add_report_command(app),
      er::cli::add_findings_command(app),
      er::cli::add_study_command(app),
      er::cli::add_serve_command(app),
      er::cli::add_quantize_command(app),
  };

  // The first word that is not an option must be a command (the app itself takes no option with a
  // value); CLI11 would only say "A subcommand is required".
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    bool known = false;
    std::string names;
    for (const auto& c : commands) {
      known = known || c.app->get_name() == arg;
      names += (names.empty() ? "" : ", ") + c.app->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "edgereason: error: unknown command '%s' (commands: %s; see edgereason --help)\n", arg.c_str(),
                   names.c_str());
      return kExitBadInput;
    }
    break;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and the usage hint
    return kExitBadInput;
  }

  for (const auto& [sub, fn] : commands) {
    if (!sub->parsed()) continue;
    er::Status st;
    try {
      st = fn();
    } catch (const std::bad_alloc&) {
      st = er::Status::internal("out of memory");
    } catch (const std::exception& e) {
      st = er::Status::internal(std::string("unexpected exception: ") + e.what());
    }
    if (st.is_ok()) return kExitOk;
    st = st.renamed(er::cli::flag_for_field);  // library names -> this command line's flags
    std::fflush(stdout);
    std::fprintf(stderr, "edgereason %s: error: %s\n", sub->get_name().c_str(), st.message().c_str());
    return st.is_bad_input() ? kExitBadInput : kExitRuntime;
  }
  return kExitBadInput;  // unreachable: require_subcommand(1)
}
