import KubeAPI
import KubeAPIExtensions
import TideAPI

/// Mode CronJob: the scaler as a CronJob, one decision a run.
enum ScalerCronJob: ChildPart {
    static func isWanted(by application: Application, serviceMonitors: Bool) -> Bool {
        Children.runsScaler(application) && (application.spec.scaling?.mode ?? .cronJob) == .cronJob
    }

    static func desired(for application: Application, settings: OperatorSettings) throws -> DesiredChild {
        try DesiredChild(Children.scalerCronJob(for: application, settings: settings), part: self)
    }
}

extension Children {
    public static func scalerCronJob(for application: Application, settings: OperatorSettings) -> CronJob {
        scalerCronJob(for: ScalerOwner(application), settings: settings)
    }

    /// The scaler as a CronJob: one decision a run.
    public static func scalerCronJob(for owner: ScalerOwner, settings: OperatorSettings) -> CronJob {
        CronJob(
            metadata: owner.metadata(),
            spec: .init(
                schedule: owner.scaling?.schedule ?? Defaults.schedule, concurrencyPolicy: "Forbid", suspend: false,
                startingDeadlineSeconds: 60, successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 1,
                // A run that decided, or recorded why it could not, exits 0: the Job neither
                // retries it (which would count a failure twice) nor warns every tick.
                // backoffLimit 1 retries only a run that could not record anything.
                jobTemplate: .init(spec: .init(
                    backoffLimit: 1, activeDeadlineSeconds: 120, ttlSecondsAfterFinished: 600,
                    template: scalerPod(
                        for: owner, settings: settings, arguments: scalerArguments(for: owner) + ["--exit-zero-when-recorded"],
                        restartPolicy: "Never")))))
    }
}
